"""chronoguard.registry"""
