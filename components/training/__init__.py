"""Training: Karpenter pools for training (GPU, spot, EFA), Kueue fair-share queues per team, JupyterHub."""
