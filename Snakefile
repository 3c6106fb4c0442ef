# xaicut: skin-lesion segmentation from class labels only.
# HAM10000 -> split -> class-balanced augmentation -> ResNet(+CBAM) -> Grad-CAM family/SHAP (HDF5)
# -> threshold study and deletion faithfulness of the maps
# -> fused binary seeds -> GMM + graph cut -> one exported mask per image with a label-free
# confidence -> Dice/Jaccard where ground-truth masks exist -> report.  See README.md.
# Supervised baseline beside it: U-Net trained on the ground-truth masks, scored as stage unet.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/attribute.smk"
include: "rules/study.smk"
include: "rules/segment.smk"
include: "rules/student.smk"
include: "rules/unet.smk"
include: "rules/evaluate.smk"
include: "rules/export.smk"


rule all:
    default_target: True
    input:
        LAYOUT.report,
        run_products,
