# Input data: demo generator (data_dir: demo), validation + split (masks optional), class-balanced
# augmentation.


if DEMO:

    rule demo_data:
        output:
            directory(LAYOUT.demo_data),
        log:
            RESULTS / "logs" / "demo_data.log",
        benchmark:
            benchmark_file("demo_data", shared=True)
        conda:
            "../envs/data.yaml"
        params:
            demo=config["demo"],
            seed=config["seed"],
        script:
            "../workflow_scripts/demo_data.py"


checkpoint ingest:
    input:
        data=DATA_DIR,
    output:
        manifest=LAYOUT.manifest(),
        rejected=LAYOUT.rejected(),
    log:
        RESULTS / "logs" / "ingest.log",
    benchmark:
        benchmark_file("ingest", shared=True)
    conda:
        "../envs/data.yaml"
    params:
        split=config["split"],
        seed=config["seed"],
        on_bad_input=config["on_bad_input"],
        masks=config["masks"],
        label_column=config["label_column"],
        max_image_pixels=config["max_image_pixels"],
        external=False,
    script:
        "../workflow_scripts/ingest.py"


checkpoint ingest_external:
    input:
        data=lambda wildcards: EXTERNAL[wildcards.dataset],
        classes=LAYOUT.manifest(),
    output:
        manifest=LAYOUT.manifest("{dataset}"),
        rejected=LAYOUT.rejected("{dataset}"),
    log:
        RESULTS / "logs" / "ingest_external" / "{dataset}.log",
    benchmark:
        benchmark_file("ingest_external", "dataset", shared=True)
    conda:
        "../envs/data.yaml"
    params:
        split=config["split"],
        seed=config["seed"],
        on_bad_input=config["on_bad_input"],
        masks=config["masks"],
        label_column=config["label_column"],
        max_image_pixels=config["max_image_pixels"],
        external=True,
    script:
        "../workflow_scripts/ingest.py"


rule augment:
    input:
        manifest=LAYOUT.manifest(),
    output:
        dataset=LAYOUT.dataset_b,
        images=directory(LAYOUT.augmented),
    log:
        RESULTS / "logs" / "augment.log",
    benchmark:
        benchmark_file("augment", shared=True)
    conda:
        "../envs/data.yaml"
    params:
        augment=config["augment"],
        seed=config["seed"],
    script:
        "../workflow_scripts/augment.py"
