"""TensorFlow 1.x on TensorFlow 2: the API, its random numbers, and what a TF 1.x notebook
finds when --run-notebook runs it unchanged."""
