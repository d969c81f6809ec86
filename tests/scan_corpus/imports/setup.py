from setuptools import setup

setup(
    name="legacy-api",
    install_requires=[
        "requests>=2",
        "firebase-admin>=6",
    ],
    extras_require={"docs": ["firebase-admin-docs-theme"]},
)
