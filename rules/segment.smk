# Attribution maps -> binary seeds (fuse) -> GMM + graph cut (segment), one job per shard.


rule fuse:
    input:
        maps=RESULTS / "attribution" / "{shard}",
    output:
        [directory(RESULTS / "masks" / stage / "{shard}") for stage in FUSE_STAGES],
    params:
        fuse=config["fuse"],
        stages=FUSE_STAGES,
    log:
        RESULTS / "logs" / "fuse" / "{shard}.log",
    conda:
        "../envs/segment.yaml"
    script:
        "../workflow_scripts/fuse.py"


rule segment:
    input:
        manifest=RESULTS / "data" / "manifest.csv",
        seeds=RESULTS / "masks" / "fused" / "{shard}",
    output:
        masks=directory(RESULTS / "masks" / "graphcut" / "{shard}"),
        table=RESULTS / "segment" / "{shard}.csv",
    params:
        segment=config["segment"],
        seed=config["seed"],
    log:
        RESULTS / "logs" / "segment" / "{shard}.log",
    conda:
        "../envs/segment.yaml"
    script:
        "../workflow_scripts/segment.py"
