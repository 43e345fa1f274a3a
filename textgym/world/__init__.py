"""The seeded world that both the bundled model's pretraining corpus and the language tasks' prompt sets come from."""
