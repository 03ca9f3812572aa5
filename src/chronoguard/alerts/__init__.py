"""chronoguard.alerts"""
