"""chronoguard.drift"""
