"""Working with a trained run directory: reload, evaluate (Table 1), open-loop videos (Fig. 10) and state
diagnostics (Fig. 11)."""
import inspect
import io
import json
import logging
import os

import gin
import numpy as np
import tensorflow as tf
from PIL import Image

from planet import agent as agent_lib
from planet import config as config_lib
from planet import envs
from planet import logger
from planet import networks
from planet import optimizer as optimizer_lib
from planet import planner
from planet import preprocess
from planet import replay as replay_lib
from planet import rollout
from planet import rundir
from planet import world_model as world_model_lib
from planet.report import run_figures


class LoadedRun:
  """A run directory reloaded: its configuration, environment and the world model at a checkpoint."""

  def __init__(self, logdir, checkpoint=None, make_env=True, gin_params=()):
    """`gin_params`: bindings applied over the run's config.gin, e.g. another planner ('cem_plan.candidates=1000')."""
    config = rundir.RunDir(logdir).config
    if not os.path.exists(config):
      raise FileNotFoundError(f'{config} not found: is {logdir!r} a run directory of scripts/train.py?')
    config_lib.parse([config], list(gin_params))
    self.bindings = list(gin_params)
    self.logdir = logdir
    self.task = gin.query_parameter('train.task')
    self.checkpoint = checkpoint or tf.train.latest_checkpoint(rundir.RunDir(logdir).checkpoints)
    if not self.checkpoint:
      raise FileNotFoundError(f'no checkpoint in {logdir}/checkpoints yet: the run has not finished an episode')
    if not tf.io.gfile.exists(self.checkpoint + '.index'):
      kept = sorted(os.path.basename(p)[:-len('.index')]
                    for p in tf.io.gfile.glob(os.path.join(rundir.RunDir(logdir).checkpoints, '*.index')))
      raise FileNotFoundError(f"no checkpoint {self.checkpoint} (give its path without a suffix; the run keeps "
                              f"{', '.join(kept) or 'none'})")
    self.env = envs.make_env(self.task, seed=0) if make_env else None
    action_size = self.env.action_size if self.env else self._action_size()
    self.model = world_model_lib.WorldModel(action_size)
    tf.train.Checkpoint(model=self.model).restore(self.checkpoint).expect_partial()
    logging.info('loaded %s', self.checkpoint)

  def _action_size(self):
    episode = self.episodes('train_episodes', 1)[0]
    return episode['action'].shape[-1]

  def episodes(self, kind='test_episodes', count=None):
    paths = rundir.list_episodes(getattr(rundir.RunDir(self.logdir), kind))
    loaded = [replay_lib.load_episode(path) for path in (paths[-count:] if count else paths)]
    return [episode for episode in loaded if episode is not None]


def evaluate(run, episodes=10, seed=12345, explore=False):
  """`episodes` test episodes, episode k from start (environment seed) k of `seed`'s sequence, so two evaluations
  with the same seed play the same starts; without exploration noise, as Table 1's, or with the training episodes'
  (`explore`, a diagnostic). The record goes to eval.json in the run directory, or, for an evaluation with other
  bindings or with noise, to analysis/eval+<bindings>.json."""
  agent = agent_lib.Agent(run.model)
  starts, returns = [], []
  for start, episode in _play_starts(run, agent, episodes, seed, explore, 'eval episode'):
    starts.append(start)
    returns.append(float(episode['reward'].sum()))
  result = {'task': run.task, 'checkpoint': os.path.basename(run.checkpoint), 'returns': returns,
            'mean': float(np.mean(returns)), 'std': float(np.std(returns)), 'bindings': run.bindings,
            'starts': starts, 'exploration_noise': agent.exploration_noise if explore else 0.0}
  path = eval_record_path(run, explore)
  rundir.write_atomically(path, json.dumps(result, indent=1))
  logging.info('mean test return over %d episodes: %.1f (std %.1f) -> %s', episodes, result['mean'], result['std'],
               path)
  return result


def _play_starts(run, policy, count, seed, explore, label):
  """Yields (start, episode) for `count` episodes of `policy`, episode k from start k of `seed`'s sequence: the
  starts every evaluation of a run shares."""
  for k in range(count):
    episode_seed = rollout.derive_seed(seed, 'eval', k)
    episode = rollout.run_episode_retrying(run.env, policy, episode_seed, explore=explore)
    logging.info('%s %d/%d: return %.1f', label, k + 1, count, float(episode['reward'].sum()))
    yield int(episode_seed[1]), episode


def eval_record_path(run, explore=False):
  """Where `evaluate` writes: eval.json (collected into results/), or analysis/eval+<bindings>[+explore].json."""
  layout = rundir.RunDir(run.logdir)
  parts = [config_lib.binding_name(b) for b in run.bindings] + (['explore'] if explore else [])
  return os.path.join(layout.analysis, 'eval+' + '+'.join(parts) + '.json') if parts else layout.eval_record


class _PlanRecorder:
  """A policy that acts with `agent` and keeps, for every step, the planner's details of that step's plan."""

  def __init__(self, agent):
    self.agent, self.steps = agent, []

  def reset(self):  # Also where a retried episode starts again: only the played episode's steps are kept.
    self.agent.reset()
    self.steps = []

  def act(self, observation, seed, explore):
    action = self.agent.act(observation, seed, explore)
    elite = self.agent.plan_details(seed)['elite_returns'].numpy()
    self.steps.append((float(elite.mean()), float(elite.max() - elite.min())))
    return action


def planner_predictions(run, episodes=3, seed=12345, tie=0.01):
  """What the planner expects against what it gets, on `evaluate`'s starts, without exploration noise: at every
  step, the mean return the model predicted for the last CEM iteration's K best candidates (discounted as the
  planner discounts) against the discounted return the next H steps of the episode paid, and the elite's spread
  (best minus K-th: under `tie` the model tells the elite apart no better than a tie, and the refit averages
  near-random sequences). Writes analysis/planner_predictions-<checkpoint>.json (one per checkpoint, so a later
  checkpoint's keeps an earlier one's); returns its summary."""
  horizon, discount = (config_lib.query(f'cem_plan.{name}', _plan_default(name)) for name in ('horizon', 'discount'))
  recorder = _PlanRecorder(agent_lib.Agent(run.model))
  predicted, realized, spread, returns = [], [], [], []
  for _, episode in _play_starts(run, recorder, episodes, seed, False, 'planner predictions, episode'):
    rewards = episode['reward'][1:]  # rewards[t]: paid for the action of step t.
    realized.extend(discounted_windows(rewards, horizon, discount))
    predicted.extend(expected for expected, _ in recorder.steps)
    spread.extend(gap for _, gap in recorder.steps)
    returns.append(float(rewards.sum()))
  predicted, realized = np.array(predicted), np.array(realized)
  varies = predicted.std() > 0 and realized.std() > 0
  summary = {'task': run.task, 'checkpoint': os.path.basename(run.checkpoint), 'episodes': episodes, 'returns': returns,
             'horizon': horizon, 'discount': discount, 'steps': len(predicted),
             'predicted_mean': float(predicted.mean()), 'realized_mean': float(realized.mean()),
             'correlation': float(np.corrcoef(predicted, realized)[0, 1]) if varies else None,
             'tied_share': float(np.mean(np.array(spread) < tie)), 'tie': tie}
  record = dict(summary, predicted=predicted.round(4).tolist(), realized=realized.round(4).tolist(),
                spread=np.round(spread, 4).tolist())
  path = os.path.join(rundir.RunDir(run.logdir).analysis, f"planner_predictions-{summary['checkpoint']}.json")
  rundir.write_atomically(path, json.dumps(record))
  logging.info('the planner predicted %.2f and got %.2f (mean discounted return of the next %d steps, over %d '
               'steps); its elite tied (spread under %g) at %.0f%% of the steps -> %s', summary['predicted_mean'],
               summary['realized_mean'], horizon, summary['steps'], tie, 100 * summary['tied_share'], path)
  return summary


def discounted_windows(rewards, horizon, discount):
  """[sum_k discount^k rewards[t + k] for k < horizon, cut at the episode's end] for every step t."""
  weights = discount ** np.arange(horizon)
  return [float(np.sum(rewards[t:t + horizon] * weights[:len(rewards[t:t + horizon])])) for t in range(len(rewards))]


def _plan_default(name):
  return inspect.signature(planner.cem_plan).parameters[name].default


def video_prediction(model, episode, context=world_model_lib.OPEN_LOOP_CONTEXT,
                     horizon=world_model_lib.OPEN_LOOP_HORIZON, seed=0):
  """Fig. 10: truth, prediction and |difference| frames (uint8 [3, T, 64, 64, 3]), T = context + horizon."""
  length = min(len(episode['reward']), context + horizon)
  if length <= context:
    raise ValueError(f'episode of {len(episode["reward"])} steps is too short for {context} context frames')
  batch = {'image': tf.constant(episode['image'][None, :length]),
           'action': tf.constant(episode['action'][None, :length], tf.float32)}
  truth, prediction = world_model_lib.open_loop_prediction(model, batch, context, tf.constant([seed, 1]))
  return preprocess.comparison(truth.numpy()[0], prediction.numpy()[0])


def strip_image(rows, every=5, scale=2):
  """Rows x time frames -> one picture with a column every `every` steps (upscaled by `scale`)."""
  frames = rows[:, ::every]
  picture = np.concatenate([np.concatenate(list(row), 1) for row in frames], 0)
  return picture.repeat(scale, 0).repeat(scale, 1)


@gin.configurable
def fit_probes(model, episodes, targets=('qpos', 'qvel', 'reward'), units=100, steps=1000, seed=0):
  """Fig. 11: small MLPs from the frozen model's posterior features to the true state; returns a predictor."""
  features, values = [], []
  for k, episode in enumerate(episodes):
    feats = _posterior_features(model, episode, seed=k)
    features.append(feats)
    values.append(_state_targets(episode, targets))
  x, y = np.concatenate(features), np.concatenate(values).astype(np.float32)
  mean, std = y.mean(0), y.std(0) + 1e-6
  probe = networks.MLP(x.shape[-1], y.shape[-1], units, 2, 'relu')
  adam = optimizer_lib.Adam(probe.trainable_variables, learning_rate=1e-3, epsilon=1e-4, clip_norm=100.0)
  rng = np.random.RandomState(seed)

  @tf.function(autograph=False)
  def step(xb, yb):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.square(probe(xb) - yb))
    adam.apply(tape.gradient(loss, probe.trainable_variables))
    return loss

  y_norm = (y - mean) / std
  for _ in range(steps):
    index = rng.randint(0, len(x), min(256, len(x)))
    loss = step(x[index], y_norm[index])
  sizes = [_state_targets(episodes[0], [t]).shape[1] for t in targets]
  names = [f'{t}[{i}]' if size > 1 or t != 'reward' else t for t, size in zip(targets, sizes) for i in range(size)]
  logging.info('probe training loss (normalised MSE): %.4f', float(loss))
  return (lambda features: probe(tf.constant(features, tf.float32)).numpy() * std + mean), names


def _state_targets(episode, targets):
  """The episode's true quantities `targets` (e.g. qpos, qvel, reward) as one [T + 1, D] array."""
  return np.concatenate([np.reshape(episode[t], (len(episode['reward']), -1)) for t in targets], -1)


def _posterior_features(model, episode, seed=0):
  image = model.preprocess(tf.constant(episode['image'][None]), tf.constant([seed, 0]))
  embed = model.encoder(image)
  post, _ = model.dynamics.observe(embed, tf.constant(episode['action'][None], tf.float32),
                                   model.dynamics.initial(1), tf.constant([seed, 1]))
  return model.dynamics.features(post).numpy()[0]


def open_loop_states(model, predictor, episode, context=world_model_lib.OPEN_LOOP_CONTEXT,
                     horizon=world_model_lib.OPEN_LOOP_HORIZON, seed=0, targets=('qpos', 'qvel', 'reward')):
  """Probe predictions from open-loop features (after `context` filtered steps) against the true states."""
  length = min(len(episode['reward']), context + horizon)
  image = model.preprocess(tf.constant(episode['image'][None, :context]), tf.constant([seed, 0]))
  action = tf.constant(episode['action'][None, :length], tf.float32)
  _, prior = world_model_lib.filter_then_imagine(model, image, action, context, tf.constant([seed, 1]),
                                                 tf.constant([seed, 2]))
  features = model.dynamics.features(prior).numpy()[0]
  truth = _state_targets(episode, targets)
  return predictor(features), truth[context:length]


def write_openloop_video(run, out_dir, context=world_model_lib.OPEN_LOOP_CONTEXT,
                         horizon=world_model_lib.OPEN_LOOP_HORIZON):
  """Fig. 10 for the run's last test episode: openloop_strip.png (truth / prediction / difference, every 5th
  frame) and openloop.gif in `out_dir`. Returns the PNG's path."""
  tests = run.episodes('test_episodes') or run.episodes('train_episodes')
  rows = video_prediction(run.model, tests[-1], context, horizon)
  path = os.path.join(out_dir, 'openloop_strip.png')
  buffer = io.BytesIO()
  Image.fromarray(strip_image(rows)).save(buffer, format='PNG')
  rundir.write_atomically(path, buffer.getvalue())
  logger.write_gif(os.path.join(out_dir, 'openloop.gif'), np.concatenate(list(rows), 1))
  return path


def write_diagnostics(run, out_dir, context=world_model_lib.OPEN_LOOP_CONTEXT,
                      horizon=world_model_lib.OPEN_LOOP_HORIZON):
  """Fig. 11: probes fit on the run's training episodes, read from open-loop features of its last test episode;
  diagnostics.png and diagnostics.json (open-loop RMSE per quantity) in `out_dir`. Returns the errors."""
  tests = run.episodes('test_episodes') or run.episodes('train_episodes')
  train = run.episodes('train_episodes')
  predictor, names = fit_probes(run.model, train[:-1] or train)
  prediction, truth = open_loop_states(run.model, predictor, tests[-1], context, horizon)
  run_figures.plot_diagnostics(prediction, truth, names, os.path.join(out_dir, 'diagnostics.png'))
  errors = {name: float(np.sqrt(np.mean((prediction[:, i] - truth[:, i]) ** 2))) for i, name in enumerate(names)}
  rundir.write_atomically(os.path.join(out_dir, 'diagnostics.json'),
                          json.dumps({'open_loop_rmse': errors, 'context': context, 'horizon': len(truth)}, indent=1))
  return errors
