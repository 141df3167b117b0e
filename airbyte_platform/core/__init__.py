"""The bottom layer every area builds on: the connection catalog and its asset specs, the lake
reader, the destinations resource and the min-records contract. It imports no other area."""
