# Attribution maps -> binary masks (fuse); seeds + GMM graph cut and the Otsu baseline (segment).
# One job per shard.


rule fuse:
    input:
        maps=RESULTS / "attribution" / "{shard}",
        auto=auto_thresholds_input,
    output:
        [directory(RUN / "masks" / stage / "{shard}") for stage in FUSE_STAGES],
    log:
        RUN / "logs" / "fuse" / "{shard}.log",
    conda:
        "../envs/segment.yaml"
    params:
        fuse=config["fuse"],
        stages=FUSE_STAGES,
    script:
        "../workflow_scripts/fuse.py"


rule segment:
    input:
        manifest=RESULTS / "data" / "manifest.csv",
        maps=RESULTS / "attribution" / "{shard}",
    output:
        masks=[directory(RUN / "masks" / stage / "{shard}") for stage in SEGMENT_STAGES],
        table=RUN / "segment" / "{shard}.csv",
    log:
        RUN / "logs" / "segment" / "{shard}.log",
    conda:
        "../envs/segment.yaml"
    params:
        segment=config["segment"],
        seeding=config["seeding"],
        methods=config["attribute"]["methods"],
        stages=SEGMENT_STAGES,
        seed=config["seed"],
    script:
        "../workflow_scripts/segment.py"
