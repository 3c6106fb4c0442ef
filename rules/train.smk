# Classifier training on class labels only (GPU-capable).


rule train:
    input:
        dataset=RESULTS / "data" / "dataset_b.csv",
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
        seed=config["seed"],
        device=config["device"],
        resume=RESULTS / "train" / "{variant}" / "last_epoch.pt",  # exists while a training job is unfinished
    script:
        "../workflow_scripts/train.py"
