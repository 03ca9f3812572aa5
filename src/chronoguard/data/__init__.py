"""chronoguard.data"""
