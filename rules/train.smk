# Classifier training on class labels only (GPU-capable).


rule train:
    input:
        dataset=RESULTS / "data" / "dataset_b.csv",
    output:
        model=RESULTS / "train" / "model.pt",
        history=report(
            RESULTS / "train" / "history.csv",
            caption="../report/history.rst",
            category="Classifier",
        ),
        classification=report(
            RESULTS / "train" / "classification_report.csv",
            caption="../report/classification_report.rst",
            category="Classifier",
        ),
        predictions=RESULTS / "train" / "test_predictions.csv",
    log:
        RESULTS / "logs" / "train.log",
    conda:
        "../envs/torch.yaml"
    threads: config["threads"]
    resources:
        **gpu_resources(),
    params:
        train=config["train"],
        seed=config["seed"],
        device=config["device"],
        resume=RESULTS / "train" / "last_epoch.pt",  # exists while a training job is unfinished
    script:
        "../workflow_scripts/train.py"
