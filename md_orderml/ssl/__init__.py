"""Self-supervised pretraining of the backbone on unlabelled local environments, and transfer.

* :mod:`md_orderml.ssl.pretext`: corruptions, heads and losses (denoising with an
  equivariant l = 1 output, noisy-bond identification, shift identification,
  contrastive view invariance, nearest-bond prediction, point-group classification).
* :mod:`md_orderml.ssl.nearest_bond`: the nearest-bond pretext (holes, targets, head).
* :mod:`md_orderml.ssl.contrast`, :mod:`md_orderml.ssl.pointgroups`: the two-view
  augmentation and InfoNCE loss; point groups and generated symmetric clouds.
* :mod:`md_orderml.ssl.pretrain`: the pretraining loop and pretrained checkpoints.
* :mod:`md_orderml.ssl.finetune`: frozen / full fine-tuning on few labelled environments.
* :mod:`md_orderml.ssl.data`, :mod:`md_orderml.ssl.tasks`: unlabelled data, labelled
  environments, the held-out labelling task.
"""
