print("Hello, batch!")
