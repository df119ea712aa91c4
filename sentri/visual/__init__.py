"""Visual checks: stable screenshots and a perceptual comparison against an approved baseline."""
