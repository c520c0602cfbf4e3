import e2e
if __name__ == "__main__":
    e2e.main()
