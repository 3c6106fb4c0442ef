# Attribution maps (Grad-CAM family, SHAP) and deletion scores of the validation and test images,
# one job per shard (GPU-capable).


rule attribute:
    input:
        manifest=RESULTS / "data" / "manifest.csv",
        model=RESULTS / "train" / "model.pt",
    output:
        maps=directory(RESULTS / "attribution" / "{shard}"),
        deletion=RESULTS / "faithfulness" / "{shard}.csv",
    log:
        RESULTS / "logs" / "attribute" / "{shard}.log",
    conda:
        "../envs/torch.yaml"
    threads: config["threads"]
    resources:
        **gpu_resources(),
    params:
        attribute=config["attribute"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../workflow_scripts/attribute.py"
