"""chronoguard.monitoring"""
