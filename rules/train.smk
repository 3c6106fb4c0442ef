# Classifier training on class labels only (GPU-capable), optionally from a self-supervised
# pretraining of its ResNet body on the same images without labels.


rule pretrain:
    input:
        manifest=LAYOUT.manifest(),
    output:
        weights=LAYOUT.pretrain("{arch}") / "encoder.pt",
        history=report(
            LAYOUT.pretrain("{arch}") / "history.csv",
            caption="../report/pretrain_history.rst",
            category="Classifier",
        ),
    log:
        RESULTS / "logs" / "pretrain" / "{arch}.log",
    benchmark:
        benchmark_file("pretrain", "arch", shared=True)
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
        resume=str(LAYOUT.pretrain("{arch}") / "last_epoch.pt"),  # while pretraining is unfinished
    script:
        "../workflow_scripts/pretrain.py"


rule train_member:
    input:
        unpack(train_inputs),
    output:
        model=LAYOUT.member("{variant}", "{member}") / "model.pt",
        history=LAYOUT.member("{variant}", "{member}") / "history.csv",
    log:
        RESULTS / "logs" / "train" / "{variant}_member{member}.log",
    benchmark:
        benchmark_file("train_member", "variant", "member", shared=True)
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
        resume=str(LAYOUT.member("{variant}", "{member}") / "last_epoch.pt"),  # while the member's training is unfinished
    script:
        "../workflow_scripts/train_member.py"


rule train:
    input:
        dataset=LAYOUT.dataset_b,
        models=lambda wildcards: member_files(wildcards, "model.pt"),
        histories=lambda wildcards: member_files(wildcards, "history.csv"),
    output:
        model=LAYOUT.train("{variant}") / "model.pt",
        history=report(
            LAYOUT.classifier_table("{variant}", "history"),
            caption="../report/history.rst",
            category="Classifier",
        ),
        classification=report(
            LAYOUT.classifier_table("{variant}", "classification_report"),
            caption="../report/classification_report.rst",
            category="Classifier",
        ),
        predictions=LAYOUT.classifier_table("{variant}", "test_predictions"),
    log:
        RESULTS / "logs" / "train" / "{variant}.log",
    benchmark:
        benchmark_file("train", "variant", shared=True)
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
