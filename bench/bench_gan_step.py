"""CPU seconds per training step of the keras.io guide's GAN ("Customizing what happens in fit() with
PyTorch": discriminator and generator as the guide builds them, its ``train_step``), Ember vs Keras 3 on the
torch backend, each in its own process at one thread.

    python -m bench.bench_gan_step [--steps 5]
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def build(keras, torch):
    layers = keras.layers
    discriminator = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(64, (3, 3), strides=(2, 2), padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.GlobalMaxPooling2D(), layers.Dense(1)])
    latent_dim = 128
    generator = keras.Sequential([
        keras.Input(shape=(latent_dim,)), layers.Dense(7 * 7 * 128), layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((7, 7, 128)),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, (7, 7), padding="same", activation="sigmoid")])

    class GAN(keras.Model):  # the guide's class, its train_step as written there
        def __init__(self):
            super().__init__()
            self.discriminator, self.generator, self.latent_dim = discriminator, generator, latent_dim
            self.seed_generator = keras.random.SeedGenerator(1337)
            self.built = True

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

        def train_step(self, real_images):
            batch_size = real_images.shape[0]
            latent = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
            generated = self.generator(latent)
            combined = torch.concat([generated, torch.tensor(real_images)], axis=0)
            labels = torch.concat([torch.ones((batch_size, 1)), torch.zeros((batch_size, 1))], axis=0)
            labels += 0.05 * keras.random.uniform(labels.shape, seed=self.seed_generator)
            self.zero_grad()
            d_loss = self.loss_fn(labels, self.discriminator(combined))
            d_loss.backward()
            grads = [v.value.grad for v in self.discriminator.trainable_weights]
            with torch.no_grad():
                self.d_optimizer.apply(grads, self.discriminator.trainable_weights)
            latent = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
            misleading = torch.zeros((batch_size, 1))
            self.zero_grad()
            g_loss = self.loss_fn(misleading, self.discriminator(self.generator(latent)))
            g_loss.backward()
            grads = [v.value.grad for v in self.generator.trainable_weights]
            with torch.no_grad():
                self.g_optimizer.apply(grads, self.generator.trainable_weights)
            return float(d_loss), float(g_loss)

    gan = GAN()
    gan.compile(keras.optimizers.Adam(learning_rate=0.0003), keras.optimizers.Adam(learning_rate=0.0003),
                keras.losses.BinaryCrossentropy(from_logits=True))
    return gan


def run(fw, steps):
    if fw == "keras":
        os.environ["KERAS_BACKEND"] = "torch"
        import keras
        import torch

        torch.set_num_threads(1)
    else:
        import ember as torch
        from ember import keras
    gan = build(keras, torch)
    images = np.random.default_rng(0).random((steps + 2, 64, 28, 28, 1), dtype=np.float32)
    times = []
    for i in range(steps + 2):
        start = time.process_time()
        gan.train_step(images[i])
        if i >= 2:  # two warm-up steps
            times.append(time.process_time() - start)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["ember", "keras"])
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    if args.only:
        print(json.dumps(run(args.only, args.steps)))
        return
    from bench.harness import run_alone  # (only here: it sets thread defaults when imported)

    for fw in ("keras", "ember"):
        times = run_alone("bench.bench_gan_step", fw, "--steps", str(args.steps))
        print(f"{fw:6s} CPU s/step: median {np.median(times):.2f} ({', '.join(f'{t:.2f}' for t in times)}); "
              f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
