"""chronoguard.lifecycle"""
