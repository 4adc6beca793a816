"""A variational autoencoder on MNIST in the style of pytorch/examples' vae (784-400-20-400-784), written
with ``ember.distributions``: the encoder gives q(z|x) = Normal(mu, sigma), ``rsample`` keeps the sample
differentiable, and the KL term is ``kl_divergence(q, Normal(0, 1))``.

    python examples/vae.py --epochs 1 --save-images results/

Data: the MNIST test split shipped in examples/data/mnist (or ``--data DIR``).
"""
from __future__ import annotations

import argparse
import os

import ember
from ember import nn, optim
from ember.distributions import Normal, kl_divergence
from ember.nn import functional as F
from ember.utils.data import DataLoader
from ember.vision import datasets, transforms

SHIPPED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "mnist")


class VAE(nn.Module):
    def __init__(self, latent=20):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc_mu = nn.Linear(400, latent)
        self.fc_logvar = nn.Linear(400, latent)
        self.fc3 = nn.Linear(latent, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        return Normal(mu, (0.5 * logvar).exp())

    def decode(self, z):
        return self.fc4(F.relu(self.fc3(z))).sigmoid()

    def forward(self, x):
        q = self.encode(x.view(-1, 784))
        return self.decode(q.rsample()), q


def loss_function(recon, x, q):
    """The negative ELBO summed over the batch: reconstruction (binary cross-entropy) plus KL(q || N(0, I))."""
    bce = F.binary_cross_entropy(recon, x.view(-1, 784), reduction="sum")
    kld = kl_divergence(q, Normal(ember.zeros_like(q.loc), ember.ones_like(q.scale))).sum()
    return bce + kld


def main():
    parser = argparse.ArgumentParser(description="Ember VAE on MNIST")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-batches", type=int, default=None)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--data", default=SHIPPED)
    parser.add_argument("--save-images", default=None, help="a folder for reconstructions and samples (PNG)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    ember.manual_seed(args.seed)
    data = datasets.MNIST(args.data, train=False, transform=transforms.ToTensor())
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=True)
    model = VAE()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        model.train()
        total, seen = 0.0, 0
        for i, (x, _) in enumerate(loader):
            if args.max_batches is not None and i >= args.max_batches:
                break
            optimizer.zero_grad()
            recon, q = model(x)
            loss = loss_function(recon, x, q)
            loss.backward()
            optimizer.step()
            total, seen = total + loss.item(), seen + len(x)
            if i % args.log_interval == 0:
                print(f"Train Epoch: {epoch} [{seen}/{len(data)}]\tLoss: {loss.item() / len(x):.4f}")
        print(f"====> Epoch: {epoch} Average loss: {total / seen:.4f}")
    if args.save_images:
        from ember.vision.utils import save_image

        os.makedirs(args.save_images, exist_ok=True)
        model.eval()
        with ember.no_grad():
            x = next(iter(loader))[0][:8]
            recon, _ = model(x)
            save_image(ember.cat([x, recon.view(-1, 1, 28, 28)]), os.path.join(args.save_images, "reconstruction.png"))
            save_image(model.decode(ember.randn(64, 20)).view(64, 1, 28, 28),
                       os.path.join(args.save_images, "sample.png"))
        print(f"saved reconstruction.png and sample.png in {args.save_images}")


if __name__ == "__main__":
    main()
