"""VaDE's pretraining (Jiang et al., IJCAI 2017): the 784-500-500-2000-10 autoencoder whose encoder and
decoder VaDE (experiments/mnist_vade.py) starts from, on all 70,000 MNIST images.

The network of the authors' pretrained file (slim1017/VaDE, pretrain_weights/ae_mnist.json): ReLU hidden
layers 500-500-2000, a linear 10-d code, the mirror 2000-500-500 and a sigmoid output, Glorot-uniform
weights; the data of VaDE's protocol (configs.presets.vade_mnist: the training and test files together,
pixel / 255). The paper pretrains a stacked autoencoder as DEC does (greedy layer-wise, then fine-tuned);
the authors' code only loads the result, without the script that made it. dvae-jax trains the same
autoencoder end to end, as public re-implementations do: binary cross-entropy (the likelihood VaDE
trains on), Adam 1e-3 on batches of 256 (DEC's batch size), 50 epochs (docs/reference.md, "VaDE").

  dvae train --config experiments/mnist_vade_pretrain.py --workdir runs/vade_pretrain
  dvae train --config experiments/mnist_vade.py --workdir runs/vade --config.init_workdir=runs/vade_pretrain
  dvae study run experiments/studies/vade.py:cpu    # both stages over 3 seeds, then `dvae study report`

Its test reconstruction falls with training (75.7 nats per image after 10 of the 50 epochs,
results/vade_cpu); how well its codes cluster shows in the VaDE run it starts (init_cluster_accuracy_all
in that run's eval_test.json: a GMM fitted to these codes).
"""

from dvae_jax import configs
from dvae_jax.configs import presets
from dvae_jax.configs.variants import SMOKE_LATENT_DIM


def get_config(variant: str | None = None):
  arg = configs.parse_variant(variant)
  config = presets.vade_mnist(configs.base_config("ae", "mlp"))
  presets.constant_adam(config, learning_rate=1e-3, batch_size=256)
  config.optim.clip_value = 0.0
  config.train.num_epochs = 50
  config.train.checkpoint_every_steps = 10_000
  config = configs.apply_variant(config, arg)
  return presets.vade_code_layer(config, SMOKE_LATENT_DIM if arg.generic == "smoke" else presets.VADE_LATENT_DIM)
