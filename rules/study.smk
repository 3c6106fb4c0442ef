# Quality of the attribution maps themselves: the saliency-threshold study (paper 001) on the
# validation and test maps, and the deletion-faithfulness summary (paper 003).


rule threshold_study:
    input:
        manifest=LAYOUT.manifest(),
        maps=attribution_dirs,
    output:
        curves=LAYOUT.study_table("{variant}", "jaccard_curves"),
        best=report(
            LAYOUT.study_table("{variant}", "best_thresholds"),
            caption="../report/best_thresholds.rst",
            category="Attribution maps",
        ),
        outcome=LAYOUT.study_table("{variant}", "by_outcome"),
        mann_whitney=LAYOUT.study_table("{variant}", "mann_whitney"),
        auto=LAYOUT.auto_thresholds("{variant}"),
    log:
        RESULTS / "logs" / "threshold_study" / "{variant}.log",
    benchmark:
        benchmark_file("threshold_study", "variant", shared=True)
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
        deletion=LAYOUT.faithfulness("{variant}") / "deletion.csv",
        summary=report(
            LAYOUT.faithfulness_summary("{variant}"),
            caption="../report/faithfulness.rst",
            category="Attribution maps",
        ),
    log:
        RESULTS / "logs" / "faithfulness" / "{variant}.log",
    benchmark:
        benchmark_file("faithfulness", "variant", shared=True)
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/faithfulness.py"
