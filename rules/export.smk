# The deliverable: one mask per image of every segmented split in one folder, with a table of
# status, area, label-free confidence and prediction (no ground truth read); then, for the images
# that have a ground-truth mask, the exported folder's scores split by split.


rule export:
    input:
        unpack(export_inputs),
        manifest=RESULTS / "data" / "manifest.csv",
    output:
        folder=directory(RUN / "segmentations"),
        table=report(
            RUN / "segmentations.csv",
            caption="../report/segmentations.rst",
            category="Segmentations",
        ),
    log:
        RUN / "logs" / "export.log",
    conda:
        "../envs/segment.yaml"
    params:
        variant=EXPORT_VARIANT,
        stage=EXPORT_STAGE,
        min_student_agreement=config["export"]["min_student_agreement"],
        method=config["attribute"]["methods"][0],
        shard_size=config["attribute"]["shard_size"],
        run_masks=RUN / "masks",
        attribution=RESULTS / "attribution",
    script:
        "../workflow_scripts/export.py"


use rule export as export_external with:
    input:
        unpack(export_inputs),
        manifest=RESULTS / "external" / "{dataset}" / "manifest.csv",
        classes=RESULTS / "data" / "manifest.csv",
    output:
        folder=directory(RUN / "external" / "{dataset}" / "segmentations"),
        table=RUN / "external" / "{dataset}" / "segmentations.csv",
    log:
        RUN / "logs" / "export_external" / "{dataset}.log",


rule score_segmentations:
    input:
        manifest=RESULTS / "data" / "manifest.csv",
        folder=RUN / "segmentations",
        table=RUN / "segmentations.csv",
    output:
        per_image=RUN / "metrics" / "segmentations_per_image.csv",
        by_split=report(
            RUN / "metrics" / "segmentations_by_split.csv",
            caption="../report/segmentations_by_split.rst",
            category="Segmentations",
        ),
    log:
        RUN / "logs" / "score_segmentations.log",
    conda:
        "../envs/segment.yaml"
    script:
        "../workflow_scripts/score_segmentations.py"
