# The deliverable: one mask per image of every segmented split in one folder, with a table of
# status, area, label-free confidence and prediction (no ground truth read); then, for the images
# that have a ground-truth mask, the exported folder's scores split by split.


rule export:
    input:
        unpack(export_inputs),
        manifest=LAYOUT.manifest(),
    output:
        folder=directory(LAYOUT.segmentations()),
        table=report(
            LAYOUT.segmentations_table(),
            caption="../report/segmentations.rst",
            category="Segmentations",
        ),
    log:
        RUN / "logs" / "export.log",
    benchmark:
        benchmark_file("export")
    conda:
        "../envs/segment.yaml"
    params:
        variant=EXPORT_VARIANT,
        stage=EXPORT_STAGE,
        min_student_agreement=config["export"]["min_student_agreement"],
        method=config["attribute"]["methods"][0],
        shard_size=config["attribute"]["shard_size"],
        shards=lambda wildcards: dataset_shards(getattr(wildcards, "dataset", "")),
        results_dir=RESULTS,
        run=config["run"],
    script:
        "../workflow_scripts/export.py"


use rule export as export_external with:
    input:
        unpack(export_inputs),
        manifest=LAYOUT.manifest("{dataset}"),
        classes=LAYOUT.manifest(),
    output:
        folder=directory(LAYOUT.segmentations("{dataset}")),
        table=LAYOUT.segmentations_table("{dataset}"),
    log:
        RUN / "logs" / "export_external" / "{dataset}.log",
    benchmark:
        benchmark_file("export_external", "dataset")


rule score_segmentations:
    input:
        manifest=LAYOUT.manifest(),
        folder=LAYOUT.segmentations(),
        table=LAYOUT.segmentations_table(),
    output:
        per_image=LAYOUT.segmentation_scores_per_image,
        by_split=report(
            LAYOUT.segmentation_scores,
            caption="../report/segmentations_by_split.rst",
            category="Segmentations",
        ),
    log:
        RUN / "logs" / "score_segmentations.log",
    benchmark:
        benchmark_file("score_segmentations")
    conda:
        "../envs/segment.yaml"
    script:
        "../workflow_scripts/score_segmentations.py"
