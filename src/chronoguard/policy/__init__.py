"""chronoguard.policy"""
