print("channel-bench: placeholder")
