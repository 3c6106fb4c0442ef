# Label-free self-training (docs/self-training.md): the graph cut seeded by Otsu alone on every
# segmented shard (a teacher without classifier), pseudo-labels from each teacher's masks of the
# train and validation images (checked against the Otsu lesion of rule otsu), one student U-Net
# per teacher and round (GPU-capable), then the last round's thresholded output and the graph
# cut it seeds on every segmented shard. No ground-truth mask is read.


rule segment_image_prior:
    input:
        manifest=shard_manifest,
    output:
        masks=directory(
            LAYOUT.masks(IMAGE_PRIOR, TEACHER_STAGE[IMAGE_PRIOR], "{shard}")
        ),
        table=LAYOUT.segment_table(IMAGE_PRIOR, "{shard}"),
    log:
        RUN / "logs" / "segment" / IMAGE_PRIOR / "{shard}.log",
    benchmark:
        benchmark_file("segment_image_prior", "shard")
    conda:
        "../envs/segment.yaml"
    params:
        segment=config["segment"],
        seeding=config["seeding"],
        shard_size=config["attribute"]["shard_size"],
        seed=config["seed"],
    script:
        "../workflow_scripts/segment_image_prior.py"


rule pseudo_labels:
    input:
        manifest=LAYOUT.manifest(),
        teacher=teacher_mask_dirs,
        evidence=evidence_mask_dirs,
    output:
        folder=directory(STUDENT_ROUND / "pseudo_labels"),
        table=STUDENT_ROUND / "pseudo_labels.csv",
    log:
        RUN / "logs" / "student" / "{teacher}_round{round}_pseudo_labels.log",
    benchmark:
        benchmark_file("pseudo_labels", "teacher", "round")
    conda:
        "../envs/torch.yaml"
    params:
        student={k: config["student"][k] for k in PSEUDO_LABELLING},
    script:
        "../workflow_scripts/pseudo_labels.py"


rule train_student:
    input:
        unpack(student_encoder),
        table=STUDENT_ROUND / "pseudo_labels.csv",
    output:
        model=STUDENT_ROUND / "model.pt",
        history=STUDENT_ROUND / "history.csv",
    log:
        RUN / "logs" / "student" / "{teacher}_round{round}_train.log",
    benchmark:
        benchmark_file("train_student", "teacher", "round")
    conda:
        "../envs/torch.yaml"
    threads: config["threads"]
    resources:
        **gpu_resources(),
    params:
        student=STUDENT_TRAINING,
        seed=config["seed"],
        device=config["device"],
        # exists while training is unfinished; a string, so Snakemake fills the wildcard
        resume=str(STUDENT_ROUND / "last_epoch.pt"),
    script:
        "../workflow_scripts/train_student.py"


rule student:
    input:
        manifest=shard_manifest,
        model=student_model,
    output:
        masks=[
            directory(LAYOUT.masks("{variant}", stage, "{shard}"))
            for stage in student_stage_names("")
        ],
        table=LAYOUT.student_segment_table("{variant}", "{shard}"),
    log:
        RUN / "logs" / "student" / "{variant}" / "{shard}.log",
    benchmark:
        benchmark_file("student", "variant", "shard")
    conda:
        "../envs/torch.yaml"
    threads: config["threads"]
    resources:
        **gpu_resources(),
    params:
        stages=student_stage_names(""),
        segment=config["segment"],
        seeding=config["seeding"],
        shard_size=config["attribute"]["shard_size"],
        batch_size=config["student"]["batch_size"],
        flip_average=config["student"]["flip_average"],
        device=config["device"],
        seed=config["seed"],
    script:
        "../workflow_scripts/student.py"


use rule student as otsu_student with:
    input:
        manifest=shard_manifest,
        model=final_student_model(IMAGE_PRIOR),
    output:
        masks=[
            directory(LAYOUT.masks(IMAGE_PRIOR, stage, "{shard}"))
            for stage in student_stage_names(IMAGE_PRIOR)
        ],
        table=LAYOUT.student_segment_table(IMAGE_PRIOR, "{shard}"),
    log:
        RUN / "logs" / "student" / IMAGE_PRIOR / "{shard}.log",
    benchmark:
        benchmark_file("otsu_student", "shard")
    params:
        stages=student_stage_names(IMAGE_PRIOR),
        segment=config["segment"],
        seeding=config["seeding"],
        shard_size=config["attribute"]["shard_size"],
        batch_size=config["student"]["batch_size"],
        flip_average=config["student"]["flip_average"],
        device=config["device"],
        seed=config["seed"],


# A round before the last: its student's masks of the train and validation shards teach the next.
use rule student as student_round with:
    input:
        manifest=shard_manifest,
        model=STUDENT_ROUND / "model.pt",
    output:
        masks=[
            directory(LAYOUT.round_masks("{teacher}", "{round}", stage, "{shard}"))
            for stage in student_stage_names("")
        ],
        table=LAYOUT.round_segment_table("{teacher}", "{round}", "{shard}"),
    log:
        RUN / "logs" / "student" / "{teacher}_round{round}" / "{shard}.log",
    benchmark:
        benchmark_file("student_round", "teacher", "round", "shard")


rule adapt_student:
    input:
        manifest=LAYOUT.manifest("{dataset}"),
        teacher=lambda wildcards: external_mask_dirs(wildcards, "graphcut"),
        evidence=evidence_mask_dirs,
        initial=final_student_model(EXPORT_VARIANT),
    output:
        folder=directory(ADAPTED / "pseudo_labels"),
        table=ADAPTED / "pseudo_labels.csv",
        model=ADAPTED / "model.pt",
        history=ADAPTED / "history.csv",
    log:
        RUN / "logs" / "student" / "adapt_{dataset}.log",
    benchmark:
        benchmark_file("adapt_student", "dataset")
    conda:
        "../envs/torch.yaml"
    threads: config["threads"]
    resources:
        **gpu_resources(),
    params:
        student=config["student"],
        seed=config["seed"],
        device=config["device"],
        resume=str(ADAPTED / "last_epoch.pt"),
    script:
        "../workflow_scripts/adapt_student.py"
