"""Encoder + state-space model + decoder + reward head, the ELBO of Eq. 3 and one compiled train step."""
import gin
import tensorflow as tf

from planet import networks
from planet import objectives
from planet import optimizer as optimizer_lib
from planet import preprocess
from planet.models import rssm


@gin.configurable(denylist=['action_size'])
class WorldModel(tf.Module):

  def __init__(self, action_size, dynamics=rssm.RSSM, free_nats=3.0, kl_scale=1.0, reward_scale=10.0,
               image_bits=5, overshooting=1, overshooting_scale=1.0, global_prior_scale=0.0, name=None):
    """`overshooting` is D of Eq. 7 (1: the standard bound); the d = 1 KL weighs kl_scale, the mean of the d >= 2
    KLs weighs overshooting_scale (the authors' code)."""
    super().__init__(name=name)
    self.action_size = action_size
    self.encoder = networks.Encoder()
    self.dynamics = dynamics(action_size=action_size, embed_size=self.encoder.embed_size)
    self.decoder = networks.Decoder(self.dynamics.feature_size)
    self.reward = networks.RewardHead(self.dynamics.feature_size)
    if overshooting < 1:
      raise ValueError(f'WorldModel.overshooting is the distance D >= 1 of Eq. 7 (1 = off), got {overshooting}')
    self.free_nats = free_nats
    self.kl_scale, self.reward_scale = kl_scale, reward_scale
    self.overshooting, self.overshooting_scale = overshooting, overshooting_scale
    self.global_prior_scale = global_prior_scale
    self.image_bits = image_bits

  def preprocess(self, image, seed):
    return preprocess.preprocess(image, seed, self.image_bits)

  def loss(self, batch, seed):
    """Negative ELBO (Eq. 3) of a batch {image uint8 [B,L,64,64,3], action [B,L,A], reward [B,L]}."""
    noise_seed, model_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    image = self.preprocess(batch['image'], noise_seed)
    embed = self.encoder(image)
    batch_size = tf.shape(image)[0]
    post, prior = self.dynamics.observe(embed, batch['action'], self.dynamics.initial(batch_size), model_seed)
    features = self.dynamics.features(post)
    terms = {
        'image_loss': objectives.negative_log_likelihood(self.decoder(features), image),
        'reward_loss': objectives.negative_log_likelihood(self.reward(features), batch['reward']),
    }
    total = terms['image_loss'] + self.reward_scale * terms['reward_loss']
    if self.dynamics.stochastic:
      kl_loss, kl = objectives.kl_with_free_nats(
          self.dynamics.distribution(post), self.dynamics.distribution(prior), self.free_nats)
      terms.update(kl_loss=kl_loss, kl=kl)
      divergence = self.kl_scale * kl_loss
      if self.overshooting > 1:
        # Eq. 7 with the authors' weights (paper silent on beta_d): the one-step KL at kl_scale plus beta times the
        # mean over all d = 2..D terms, i.e. beta_1 = D; not the printed 1/D average, which shrinks the d = 1 KL.
        means, counts = objectives.overshooting_kls(
            self.dynamics, post, batch['action'], self.overshooting, self.free_nats,
            tf.random.experimental.stateless_split(seed, 3)[2])
        terms['overshooting_loss'] = objectives.overshooting_loss(means, counts)
        divergence += self.overshooting_scale * terms['overshooting_loss']
      total += divergence
      if self.global_prior_scale:
        terms['global_prior_loss'] = objectives.global_prior_kl(self.dynamics.distribution(post))
        total += self.global_prior_scale * terms['global_prior_loss']
    terms['loss'] = total
    return total, terms


@gin.configurable(denylist=['model', 'batch_size', 'length'])
class Learner(tf.Module):
  """Owns the optimizer; `train_step` is the one compiled update (traced once for fixed batch shapes)."""

  def __init__(self, model, batch_size, length, jit_compile=False, name=None):
    super().__init__(name=name)
    self.model = model
    self.optimizer = optimizer_lib.Adam(model.trainable_variables)
    self.traces = 0
    spec = {
        'image': tf.TensorSpec([batch_size, length, *networks.IMAGE_SHAPE], tf.uint8),
        'action': tf.TensorSpec([batch_size, length, model.action_size], tf.float32),
        'reward': tf.TensorSpec([batch_size, length], tf.float32),
    }
    # Without AutoGraph (all loops are explicit tf ops): it would convert the source files as they are when tracing,
    # so an edit after the process started (a `git pull` while a sweep starts runs) would reach this run's graph.
    self.train_step = tf.function(self._train_step, input_signature=[spec, tf.TensorSpec([2], tf.int32)],
                                  jit_compile=jit_compile, autograph=False)

  def _train_step(self, batch, seed):
    self.traces += 1  # Python side effect: runs once per trace.
    variables = self.model.trainable_variables
    # Bindings scoped `train_step/` apply here only (e.g. train_step/time_loop.unroll = True).
    with tf.GradientTape() as tape, gin.config_scope('train_step'):
      _, terms = self.model.loss(batch, seed)
    gradients = tape.gradient(terms['loss'], variables)
    terms['grad_norm'] = self.optimizer.apply(gradients)
    return terms


# Fig. 10 and the open-loop check of test episodes: 5 context frames filtered, then 50 predicted open loop
# (authors' code: open_loop_context = 5).
OPEN_LOOP_CONTEXT = 5
OPEN_LOOP_HORIZON = 50


def filter_then_imagine(model, image, action, context, post_seed, prior_seed):
  """The posterior over the first `context` frames, then the prior open loop from the remaining actions (Fig. 10
  and the probes of Fig. 11). image: model-space [B, >= context, 64, 64, 3]; action [B, T, A], a_{t-1} at t.
  Returns (posterior states [B, context], prior states [B, T - context])."""
  dynamics = model.dynamics
  embed = model.encoder(image[:, :context])
  post, _ = dynamics.observe(embed, action[:, :context], dynamics.initial(tf.shape(image)[0]), post_seed)
  last = tf.nest.map_structure(lambda x: x[:, -1], post)
  return post, dynamics.imagine(action[:, context:], last, prior_seed)


def open_loop_prediction(model, batch, context, seed):
  """Fig. 10: reconstruct `context` frames with the posterior, then predict the rest open loop from actions.

  Returns (truth, prediction) as model-space images [B, T, 64, 64, 3] in [-0.5, 0.5].
  """
  noise_seed, post_seed, prior_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
  truth = model.preprocess(batch['image'], noise_seed)
  post, prior = filter_then_imagine(model, truth, batch['action'], context, post_seed, prior_seed)
  features = tf.concat([model.dynamics.features(post), model.dynamics.features(prior)], 1)
  return truth, model.decoder(features).mean()
