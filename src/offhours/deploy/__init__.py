"""Deploying offhours to AWS Lambda."""
