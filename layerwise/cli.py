def main(argv=None):
    raise SystemExit("layerwise: the command line is not written yet")
