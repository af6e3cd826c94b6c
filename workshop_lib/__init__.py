"""workshop_lib: the code the DDPG notebook is given.

Modules:
    env_wrapper: :class:`~workshop_lib.env_wrapper.EnvWrapper`, a strict Gymnasium wrapper with the workshop's
        ``(next_state, reward, done)`` interface, where ``done`` means a true terminal state only.
    nets: the critic :class:`~workshop_lib.nets.ContinuousQNet` and the actor :class:`~workshop_lib.nets.Actor`.
    rb: the :class:`~workshop_lib.rb.ReplayBuffer`.
    utils: ``set_seed``, ``restored_global_rngs``, ``create_run_name``, ``visualize_result``, ``save_figure``,
        ``saved_figures``.
    noise: temporally correlated (Ornstein-Uhlenbeck) exploration noise, an extra for MountainCar.
    hyperparams: :class:`~workshop_lib.hyperparams.Hyperparameters`, every knob of a run with its default.
    loop: the training loop (``run_episode``, ``train_agent``) and the seeded set-up of a run.
    evaluation: greedy episodes (``greedy``, ``evaluate``).
    loading: ``load_class("module:Class")``, the one loader of a class named on the command line.
    train: the headless main job (``python -m workshop_lib.train --agent module:Class``).
    experiments: ``compare``, settings trained over several seeds in parallel, cached, plotted with bands.
"""

__version__ = "0.1.0"
