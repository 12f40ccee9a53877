def hello():
    return "hello from the layer"
