# Classifier training on class labels only (GPU-capable), optionally from a self-supervised
# pretraining of its ResNet body on the same images without labels.


rule pretrain:
    input:
        manifest=RESULTS / "data" / "manifest.csv",
    output:
        weights=RESULTS / "pretrain" / "{arch}" / "encoder.pt",
        history=report(
            RESULTS / "pretrain" / "{arch}" / "history.csv",
            caption="../report/pretrain_history.rst",
            category="Classifier",
        ),
    log:
        RESULTS / "logs" / "pretrain" / "{arch}.log",
    conda:
        "../envs/torch.yaml"
    threads: config["threads"]
    resources:
        **gpu_resources(),
    params:
        pretrain=config["pretrain"],
        seed=config["seed"],
        device=config["device"],
        # a string, not a Path: Snakemake fills in the wildcards of string params only
        resume=str(RESULTS / "pretrain" / "{arch}" / "last_epoch.pt"),  # while pretraining is unfinished
    script:
        "../workflow_scripts/pretrain.py"


rule train_member:
    input:
        unpack(train_inputs),
    output:
        model=MEMBERS / "{member}" / "model.pt",
        history=MEMBERS / "{member}" / "history.csv",
    log:
        RESULTS / "logs" / "train" / "{variant}_member{member}.log",
    conda:
        "../envs/torch.yaml"
    threads: config["threads"]
    resources:
        **gpu_resources(),
    params:
        train=member_train,
        seed=lambda wildcards: config["seed"] + int(wildcards.member),
        device=config["device"],
        # a string, not a Path: Snakemake fills in the wildcards of string params only
        resume=str(MEMBERS / "{member}" / "last_epoch.pt"),  # while the member's training is unfinished
    script:
        "../workflow_scripts/train_member.py"


rule train:
    input:
        dataset=RESULTS / "data" / "dataset_b.csv",
        models=lambda wildcards: member_files(wildcards, "model.pt"),
        histories=lambda wildcards: member_files(wildcards, "history.csv"),
    output:
        model=RESULTS / "train" / "{variant}" / "model.pt",
        history=report(
            RESULTS / "train" / "{variant}" / "history.csv",
            caption="../report/history.rst",
            category="Classifier",
        ),
        classification=report(
            RESULTS / "train" / "{variant}" / "classification_report.csv",
            caption="../report/classification_report.rst",
            category="Classifier",
        ),
        predictions=RESULTS / "train" / "{variant}" / "test_predictions.csv",
    log:
        RESULTS / "logs" / "train" / "{variant}.log",
    conda:
        "../envs/torch.yaml"
    threads: config["threads"]
    resources:
        **gpu_resources(),
    params:
        train=variant_train,
        device=config["device"],
    script:
        "../workflow_scripts/train.py"
