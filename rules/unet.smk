# Supervised baseline (paper 000 Table 2): a U-Net trained on the ground-truth masks of the train
# split (GPU-capable), then one prediction job per test shard, scored by evaluate as stage unet.
# Independent of fuse/segment settings, so it lives in the shared results folder.


rule train_unet:
    input:
        manifest=LAYOUT.manifest(),
    output:
        model=LAYOUT.supervised / "unet_model.pt",
        history=report(
            LAYOUT.supervised / "unet_history.csv",
            caption="../report/unet_history.rst",
            category="Supervised baseline",
        ),
    log:
        RESULTS / "logs" / "train_unet.log",
    benchmark:
        benchmark_file("train_unet", shared=True)
    conda:
        "../envs/torch.yaml"
    threads: config["threads"]
    resources:
        **gpu_resources(),
    params:
        unet=config["unet"],
        seed=config["seed"],
        device=config["device"],
        resume=LAYOUT.supervised / "unet_last_epoch.pt",  # exists while training is unfinished
    script:
        "../workflow_scripts/train_unet.py"


rule unet:
    input:
        manifest=LAYOUT.manifest(),
        model=rules.train_unet.output.model,
    output:
        masks=directory(LAYOUT.unet_masks("{shard}")),
    log:
        RESULTS / "logs" / "unet" / "{shard}.log",
    benchmark:
        benchmark_file("unet", "shard", shared=True)
    conda:
        "../envs/torch.yaml"
    threads: config["threads"]
    resources:
        **gpu_resources(),
    params:
        shard_size=config["attribute"]["shard_size"],
        batch_size=config["unet"]["batch_size"],
        device=config["device"],
    script:
        "../workflow_scripts/unet.py"
