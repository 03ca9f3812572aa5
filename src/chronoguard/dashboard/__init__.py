"""chronoguard.dashboard"""
