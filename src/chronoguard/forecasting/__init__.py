"""chronoguard.forecasting"""
