"""chronoguard.store"""
