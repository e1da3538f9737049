"""Training: fine-tuning loop and pretraining (DeepSpeed or plain torch)."""
