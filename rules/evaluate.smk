# Dice/Jaccard of every stage against the ground truth (test images that have a mask), the
# comparison tables over stages, the per-rule cost of the run, and the HTML report.


rule evaluate:
    input:
        manifest=LAYOUT.manifest(),
        masks=lambda wildcards: [f for _, _, f in scored_mask_folders(wildcards)],
        segment=segment_tables,
    output:
        per_image=LAYOUT.metrics_table("per_image"),
        summary=report(
            LAYOUT.metrics_table("summary"),
            caption="../report/summary.rst",
            category="Segmentation",
        ),
        per_class=report(
            LAYOUT.metrics_table("summary_per_class"),
            caption="../report/summary_per_class.rst",
            category="Segmentation",
        ),
        stage_ablation=LAYOUT.metrics_table("stage_ablation"),
        unet_vs_xai=LAYOUT.metrics_table("unet_vs_xai"),
    log:
        RUN / "logs" / "evaluate.log",
    benchmark:
        benchmark_file("evaluate")
    conda:
        "../envs/segment.yaml"
    params:
        # (variant, stage) of each mask folder of input.masks, in the same order
        scored=lambda wildcards: [(v, s) for v, s, _ in scored_mask_folders(wildcards)],
    script:
        "../workflow_scripts/evaluate.py"


use rule evaluate as evaluate_external with:
    input:
        manifest=LAYOUT.manifest("{dataset}"),
        masks=lambda wildcards: [f for _, _, f in scored_mask_folders(wildcards)],
        segment=segment_tables,
    output:
        per_image=LAYOUT.metrics_table("per_image", "{dataset}"),
        summary=LAYOUT.metrics_table("summary", "{dataset}"),
        per_class=LAYOUT.metrics_table("summary_per_class", "{dataset}"),
        stage_ablation=LAYOUT.metrics_table("stage_ablation", "{dataset}"),
        unet_vs_xai=LAYOUT.metrics_table("unet_vs_xai", "{dataset}"),
    log:
        RUN / "logs" / "evaluate_external" / "{dataset}.log",
    benchmark:
        benchmark_file("evaluate_external", "dataset")


rule report:
    input:
        unpack(report_files_before_ingest),
        unpack(report_scored_files),
    output:
        report(
            LAYOUT.report,
            caption="../report/report.rst",
            category="Report",
        ),
    log:
        RUN / "logs" / "report.log",
    benchmark:
        benchmark_file("report")
    conda:
        "../envs/segment.yaml"
    params:
        config=config,
    script:
        "../workflow_scripts/report.py"


# Seconds and peak memory of every job of the run (its benchmark files), per image; shown by the
# report, so it gathers every benchmark but the report's own (and its own).
rule costs:
    input:
        costed_outputs,
    output:
        LAYOUT.costs,
    log:
        RUN / "logs" / "costs.log",
    benchmark:
        benchmark_file("costs")
    conda:
        "../envs/segment.yaml"
    params:
        folders=[LAYOUT.benchmarks(shared=True), LAYOUT.benchmarks()],
        manifests=benchmark_manifests(),
        shard_size=config["attribute"]["shard_size"],
    script:
        "../workflow_scripts/costs.py"
