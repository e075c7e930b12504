"""Deep reinforcement learning: environments with exact saved state (`envs`), the Nature Atari
preprocessing (`atari`), a replay memory that stores each frame once (`replay`), Q-networks
(`networks`) and the DQN update (`dqn`). The experiments that use them are milestones.families.dqn."""
