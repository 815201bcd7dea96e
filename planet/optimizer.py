"""Adam (Kingma & Ba, 2014) with global-norm gradient clipping, as a checkpointable `tf.Module`.

Uses the "epsilon hat" form of TF1's AdamOptimizer, which the authors trained with:
  lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t);  var -= lr_t * m / (sqrt(v) + eps)
With `warmup_steps = n > 0` the learning rate ramps linearly, lr * min(1, t / n) (the camera-ready code's ramp).
"""
import gin
import tensorflow as tf


@gin.configurable
class Adam(tf.Module):

  def __init__(self, variables, learning_rate=1e-3, epsilon=1e-4, clip_norm=1000.0, beta1=0.9, beta2=0.999,
               warmup_steps=0, name=None):
    super().__init__(name=name)
    self._variables = list(variables)
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
    self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self._variables]
    self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self._variables]
    self._hyper = (learning_rate, epsilon, clip_norm, beta1, beta2)
    self._warmup = warmup_steps

  def apply(self, gradients):
    """One update from gradients (in the order of the variables); returns the global norm before clipping."""
    lr, eps, clip_norm, b1, b2 = self._hyper
    gradients, norm = tf.clip_by_global_norm(gradients, clip_norm)
    self.step.assign_add(1)
    t = tf.cast(self.step, tf.float32)
    if self._warmup:
      lr = lr * tf.minimum(1.0, t / self._warmup)
    lr_t = lr * tf.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    for var, m, v, g in zip(self._variables, self.m, self.v, gradients):
      m.assign(b1 * m + (1 - b1) * g)
      v.assign(b2 * v + (1 - b2) * tf.square(g))
      var.assign_sub(lr_t * m / (tf.sqrt(v) + eps))
    return norm
