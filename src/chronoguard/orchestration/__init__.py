"""chronoguard.orchestration"""
