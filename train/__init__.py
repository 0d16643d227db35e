"""Training side (torch): the MPT model, datasets, LOSO training."""
