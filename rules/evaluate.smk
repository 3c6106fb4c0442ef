# Dice/Jaccard of every stage against the ground truth (test images that have a mask), and the
# HTML report.


rule evaluate:
    input:
        manifest=RESULTS / "data" / "manifest.csv",
        masks=stage_mask_dirs,
        segment=segment_tables,
    output:
        per_image=RUN / "metrics" / "per_image.csv",
        summary=report(
            RUN / "metrics" / "summary.csv",
            caption="../report/summary.rst",
            category="Segmentation",
        ),
        per_class=report(
            RUN / "metrics" / "summary_per_class.csv",
            caption="../report/summary_per_class.rst",
            category="Segmentation",
        ),
    log:
        RUN / "logs" / "evaluate.log",
    conda:
        "../envs/segment.yaml"
    script:
        "../workflow_scripts/evaluate.py"


use rule evaluate as evaluate_external with:
    input:
        manifest=RESULTS / "external" / "{dataset}" / "manifest.csv",
        masks=stage_mask_dirs,
        segment=segment_tables,
    output:
        per_image=RUN / "external" / "{dataset}" / "metrics" / "per_image.csv",
        summary=RUN / "external" / "{dataset}" / "metrics" / "summary.csv",
        per_class=RUN / "external" / "{dataset}" / "metrics" / "summary_per_class.csv",
    log:
        RUN / "logs" / "evaluate_external" / "{dataset}.log",


rule report:
    input:
        unpack(evaluation_tables),
        model_tables,
        study_tables,
        export_scores,
        external=external_summaries,
        manifest=RESULTS / "data" / "manifest.csv",
        rejected=RESULTS / "data" / "rejected.csv",
        segmentations=RUN / "segmentations.csv",
    output:
        report(
            RUN / "report" / "report.html",
            caption="../report/report.rst",
            category="Report",
        ),
    log:
        RUN / "logs" / "report.log",
    conda:
        "../envs/segment.yaml"
    params:
        report=config["report"],
        config=config,
        external=list(EXTERNAL),
        variants=VARIANTS,
    script:
        "../workflow_scripts/report.py"
