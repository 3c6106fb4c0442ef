# Attribution maps -> binary masks (fuse); seeds + GMM graph cut (segment: the stages the run
# exports or teaches with; segment_scored: the other seed modes, only for evaluate); the Otsu
# baseline, which needs no classifier (otsu: once per run, not per variant). One job per shard.


rule fuse:
    input:
        maps=LAYOUT.attribution("{variant}", "{shard}"),
        auto=auto_thresholds_input,
    output:
        [
            directory(LAYOUT.masks("{variant}", stage, "{shard}"))
            for stage in FUSE_STAGES
        ],
    log:
        RUN / "logs" / "fuse" / "{variant}" / "{shard}.log",
    benchmark:
        benchmark_file("fuse", "variant", "shard")
    conda:
        "../envs/segment.yaml"
    params:
        fuse=config["fuse"],
        stages=FUSE_STAGES,
    script:
        "../workflow_scripts/fuse.py"


rule segment:
    input:
        manifest=shard_manifest,
        maps=LAYOUT.attribution("{variant}", "{shard}"),
    output:
        masks=[
            directory(LAYOUT.masks("{variant}", stage, "{shard}"))
            for stage in ASKED_STAGES
        ],
        table=LAYOUT.segment_table("{variant}", "{shard}"),
    log:
        RUN / "logs" / "segment" / "{variant}" / "{shard}.log",
    benchmark:
        benchmark_file("segment", "variant", "shard")
    conda:
        "../envs/segment.yaml"
    params:
        segment=config["segment"],
        seeding=SEED_SETTINGS,
        methods=config["attribute"]["methods"],
        stage_modes=ASKED_STAGES,
        seed=config["seed"],
    script:
        "../workflow_scripts/segment.py"


use rule segment as segment_scored with:
    output:
        masks=[
            directory(LAYOUT.masks("{variant}", stage, "{shard}"))
            for stage in SCORED_STAGES
        ],
        table=LAYOUT.scored_segment_table("{variant}", "{shard}"),
    log:
        RUN / "logs" / "segment_scored" / "{variant}" / "{shard}.log",
    benchmark:
        benchmark_file("segment_scored", "variant", "shard")
    params:
        segment=config["segment"],
        seeding=SEED_SETTINGS,
        methods=config["attribute"]["methods"],
        stage_modes=SCORED_STAGES,
        seed=config["seed"],


rule otsu:
    input:
        manifest=shard_manifest,
    output:
        directory(LAYOUT.masks(IMAGE_PRIOR, OTSU_STAGE, "{shard}")),
    log:
        RUN / "logs" / "otsu" / "{shard}.log",
    benchmark:
        benchmark_file("otsu", "shard")
    conda:
        "../envs/segment.yaml"
    params:
        seeding=OTSU_SEEDING,
        shard_size=config["attribute"]["shard_size"],
    script:
        "../workflow_scripts/otsu.py"
