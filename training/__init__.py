"""Training pipeline: data sets, networks, augmentation, export of what the service serves (models/<name>/<v>/).

Never imported by ``service/`` at serving time; it imports ``service.preprocessing`` so training and serving
see identical pixels.
"""
