# Attribution maps (Grad-CAM family, SHAP) and deletion scores of the validation and test images,
# one job per shard (GPU-capable).


rule attribute:
    input:
        manifest=LAYOUT.manifest(),
        images=shard_manifest,
        model=LAYOUT.train("{variant}") / "model.pt",
    output:
        maps=directory(LAYOUT.attribution("{variant}", "{shard}")),
        deletion=LAYOUT.deletion_shard("{variant}", "{shard}"),
    log:
        RESULTS / "logs" / "attribute" / "{variant}" / "{shard}.log",
    benchmark:
        benchmark_file("attribute", "variant", "shard", shared=True)
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
