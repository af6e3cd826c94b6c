"""workshop_lib: the code the DDPG notebook is given.

Modules:
    env_wrapper: :class:`~workshop_lib.env_wrapper.EnvWrapper`, a strict Gymnasium wrapper with the workshop's
        ``(next_state, reward, done)`` interface, where ``done`` means a true terminal state only.
    nets: the critic :class:`~workshop_lib.nets.ContinuousQNet` and the actor :class:`~workshop_lib.nets.Actor`.
    rb: the :class:`~workshop_lib.rb.ReplayBuffer`.
    utils: ``set_seed``, ``create_run_name``, ``visualize_result``, ``save_figure``, ``saved_figures``.
    noise: temporally correlated (Ornstein-Uhlenbeck) exploration noise, an extra for MountainCar.
    train: the training loop and the headless main job (``python -m workshop_lib.train``).
    experiments: ``compare``, settings trained over several seeds in parallel, cached, plotted with bands.
"""

__version__ = "0.1.0"
