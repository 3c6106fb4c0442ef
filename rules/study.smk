# Quality of the attribution maps themselves: the saliency-threshold study (paper 001) on the
# validation and test maps, and the deletion-faithfulness summary (paper 003).


rule threshold_study:
    input:
        manifest=RESULTS / "data" / "manifest.csv",
        maps=attribution_dirs,
    output:
        curves=RESULTS / "thresholds" / "{variant}" / "jaccard_curves.csv",
        best=report(
            RESULTS / "thresholds" / "{variant}" / "best_thresholds.csv",
            caption="../report/best_thresholds.rst",
            category="Attribution maps",
        ),
        outcome=RESULTS / "thresholds" / "{variant}" / "by_outcome.csv",
        mann_whitney=RESULTS / "thresholds" / "{variant}" / "mann_whitney.csv",
        auto=RESULTS / "thresholds" / "{variant}" / "auto_thresholds.json",
    log:
        RESULTS / "logs" / "threshold_study" / "{variant}.log",
    conda:
        "../envs/segment.yaml"
    params:
        methods=config["attribute"]["methods"],
    script:
        "../workflow_scripts/threshold_study.py"


rule faithfulness:
    input:
        faithfulness_tables,
    output:
        deletion=RESULTS / "faithfulness" / "{variant}" / "deletion.csv",
        summary=report(
            RESULTS / "faithfulness" / "{variant}" / "summary.csv",
            caption="../report/faithfulness.rst",
            category="Attribution maps",
        ),
    log:
        RESULTS / "logs" / "faithfulness" / "{variant}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/faithfulness.py"
